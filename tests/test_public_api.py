"""The public face: `slateboard.__all__` is a tuple naming exactly what the package re-exports."""

import inspect

import slateboard
from slateboard import errors


def test_all_is_a_tuple_of_existing_unique_names() -> None:
    assert isinstance(slateboard.__all__, tuple)
    assert len(set(slateboard.__all__)) == len(slateboard.__all__)
    for name in slateboard.__all__:
        assert hasattr(slateboard, name), name


def test_all_lists_every_public_name_the_package_binds() -> None:
    public = {name for name in vars(slateboard) if not name.startswith("_")}
    submodules = {name for name, value in vars(slateboard).items() if inspect.ismodule(value)}
    exported_modules = {"errors", "rules", "policies", "sinks", "scenarios"}
    assert exported_modules <= submodules
    assert public - (submodules - exported_modules) == set(slateboard.__all__)


def test_every_error_is_under_one_root_and_documented() -> None:
    assert isinstance(errors.__all__, tuple)
    for name in errors.__all__:
        error = getattr(errors, name)
        assert issubclass(error, errors.SlateboardError), name
        assert error.__doc__, name
    for name in (
        "StaleVersionError",
        "InvalidFindingError",
        "UnknownFindingKindError",
        "PermissionDeniedError",
        "TamperedLogError",
        "PolicyError",
        "ScenarioError",
        "CommitError",
        "AgentTimeoutError",
    ):
        assert name in errors.__all__


def test_public_names_have_docstrings() -> None:
    for name in slateboard.__all__:
        assert getattr(slateboard, name).__doc__, name

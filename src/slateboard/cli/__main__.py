from slateboard.cli.commands import main

main()

"""Agents (knowledge sources): the `@agent` contract, the registry and workflow graph, and the runner."""

from slateboard.agents.registry import AgentRegistry
from slateboard.agents.runner import Attempt, run_agent
from slateboard.agents.spec import Agent, AgentContext, Parameter, agent

__all__ = ("Agent", "AgentContext", "AgentRegistry", "Attempt", "Parameter", "agent", "run_agent")

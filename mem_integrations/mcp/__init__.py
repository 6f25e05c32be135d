"""The MCP server (official MCP SDK): `create_mcp_server(memory, user_id=...)`, or
`mem-integrations mcp`. Needs the `mcp` extra."""

from mem_integrations.mcp.server import INSTRUCTIONS, create_mcp_server, http_app, run

__all__ = ["INSTRUCTIONS", "create_mcp_server", "http_app", "run"]

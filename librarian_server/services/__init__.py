"""Domain logic shared by the routers, the CLI and background tasks."""

"""A project-local PostgreSQL cluster from the Debian server package."""

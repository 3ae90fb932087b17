"""The Hideez Key (hardware vault) on the server: lifecycle, access profiles, accounts, tasks."""

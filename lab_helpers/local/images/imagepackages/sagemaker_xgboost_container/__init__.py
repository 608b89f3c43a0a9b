"""Stand-in for the XGBoost image's own package, for scripts that import it (see ``encoder``)."""

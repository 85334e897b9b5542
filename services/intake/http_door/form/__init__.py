"""The web form for the municipal social services, served by the HTTP door under /formular."""

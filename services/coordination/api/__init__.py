"""The HTTP edge: the JSON timeline API (routes, request and response models, problems, sign-in
tokens) served by one FastAPI app, which also serves the German pages."""

"""Entry points: blueprints of HTTP, queue, blob and timer triggers registered in function_app."""

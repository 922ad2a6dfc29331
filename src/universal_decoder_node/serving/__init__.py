"""The node's serving layer: LitServe API, HTTP routes, payload codec and error mapping."""

"""The buyer API's endpoints, one module per kind of reader."""

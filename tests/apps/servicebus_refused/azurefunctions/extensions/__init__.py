"""Test double: only the module path of the preview settlement package matters."""

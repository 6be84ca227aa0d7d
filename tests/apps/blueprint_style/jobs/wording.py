"""Plain text rules the greeting activity uses, imported relatively from the blueprint."""


def greeting_for(name: str, punctuation: str = "!") -> str:
    return f"Hello {name.strip().title()}{punctuation}"

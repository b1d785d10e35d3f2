"""adaptive"""

__all__: list[str] = []

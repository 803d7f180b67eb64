"""The README's main job: a script that imports a package found only in ./src on the client."""
import sys

from greetings import greet
from greetings.shout import shout

print(greet("world"))
print(shout("remote imports work"))
print(f"greetings came from {sys.modules['greetings'].__file__}")

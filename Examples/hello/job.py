"""The README's main job: a script that imports a package found only in ./src on the client."""
import sys

from greetings import greet
from greetings.shout import shout

print(greet("world"))
print(shout("remote imports work"))
# The code is the client's file (tracebacks show its lines); the worker runs it from a copy in
# the run's tree, a real file beside the package's data.
print(f"greetings came from {greet.__code__.co_filename}")
print(f"the worker's copy is {sys.modules['greetings'].__file__}")

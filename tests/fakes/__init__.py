"""Fakes for tests: real servers on 127.0.0.1 and recording stand-ins, never mocks.

- `openai_server`: an OpenAI Chat Completions server with scripted replies (see its docstring).
"""

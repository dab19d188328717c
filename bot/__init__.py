"""The core of the Qingdao innovation-policy assistant: types, ports, engine, answering, storage."""

__version__ = "0.1.0"

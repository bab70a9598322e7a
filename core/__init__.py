"""The layer every other package stands on: the job contract, the config's path type and loading, the
locations inside a workdir, storage URIs, record formats and row accounting. It imports no other moru package."""

"""A test app with blob triggers: polling and Event Grid sources, every parameter type, failures."""

# Containers are prefixed with the BLOB_PREFIX setting so every devhost run in the tests has its
# own; every invocation is one JSON line in the BLOB_JOURNAL file.

import json
import os
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _record(function: str, **fields: object) -> None:
    line = json.dumps({"function": function, "pid": os.getpid(), **fields}) + "\n"
    with open(os.environ["BLOB_JOURNAL"], "a", encoding="utf-8") as journal:
        journal.write(line)


def _stream(function: str, blob: func.InputStream) -> None:
    content = blob.read()
    _record(
        function,
        name=blob.name,
        uri=blob.uri,
        length=blob.length,
        metadata=blob.metadata,
        properties=blob.blob_properties,
        content=content.decode("utf-8", errors="replace"),
    )


@app.blob_trigger(arg_name="blob", path="%BLOB_PREFIX%samples/{name}", connection="")
def on_sample(blob: func.InputStream) -> None:
    _stream("on_sample", blob)


@app.blob_trigger(
    arg_name="blob", path="%BLOB_PREFIX%images/{category}/{name}.{ext}", connection="Storage"
)
def on_image(blob: bytes) -> None:
    _record("on_image", type=type(blob).__name__, size=len(blob))


@app.blob_trigger(arg_name="text", path="%BLOB_PREFIX%texts", connection="AzureWebJobsStorage")
def on_text(text: str) -> None:
    _record("on_text", type=type(text).__name__, content=text)


@app.blob_trigger(arg_name="blob", path="%BLOB_PREFIX%poison/{name}", connection="")
def always_fails(blob: func.InputStream) -> None:
    _record("always_fails", name=blob.name)
    raise ValueError(f"cannot process {blob.name}")


@app.blob_trigger(arg_name="blob", path="%BLOB_PREFIX%slow/{name}", connection="")
def slow(blob: func.InputStream) -> None:
    seconds = float(blob.read() or b"0")
    _record("slow", name=blob.name, event="start")
    time.sleep(seconds)
    _record("slow", name=blob.name, event="end")


@app.blob_trigger(
    arg_name="blob",
    path="%BLOB_PREFIX%uploads/{name}",
    connection="AzureWebJobsStorage",
    source=func.BlobSource.EVENT_GRID,
)
def on_upload(blob: func.InputStream) -> None:
    _stream("on_upload", blob)


# Paths the extension refuses: each is reported and the rest of the app runs.
@app.blob_trigger(arg_name="blob", path="{container}/{name}", connection="")
def container_token(blob: func.InputStream) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="%BLOB_NOT_SET%/{name}", connection="")
def missing_setting(blob: func.InputStream) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="%BLOB_PREFIX%samples/{na-me}", connection="")
def bad_parameter(blob: func.InputStream) -> None:
    pass


@app.blob_trigger(arg_name="blob", path="%BLOB_PREFIX%samples/", connection="")
def no_blob_name(blob: func.InputStream) -> None:
    pass


@app.route(route="alive")
def alive(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("yes")

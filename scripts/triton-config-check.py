#!/usr/bin/env python3
"""Parses Triton config.pbtxt files with Triton's own ModelConfig schema.

    TRT_TEST_TRITON_PYTHONPATH=DIR python3 scripts/triton-config-check.py FILE...

DIR holds the unpacked tritonclient and protobuf wheels (scripts/triton-schema.sh). The schema is the
model_config_pb2 module tritonclient generates from Triton's model_config.proto; it is loaded by file path so that
tritonclient's gRPC client (and grpcio) is not needed. Each file must parse strictly (unknown fields, wrong enum
values and type errors fail). Prints one JSON object per file (the parsed message, field names as in the proto) and
appends one line per parsed file to $TRT_TEST_TRITON_LOG when set. Exit 0 when every file parses, 1 otherwise.
"""
import importlib.util
import json
import os
import sys


def main(paths):
    root = os.environ.get("TRT_TEST_TRITON_PYTHONPATH")
    if not root:
        print("triton-config-check: TRT_TEST_TRITON_PYTHONPATH is not set (source scripts/triton-schema.sh)",
              file=sys.stderr)
        return 2
    sys.path.insert(0, root)
    from google.protobuf import json_format, text_format

    spec = importlib.util.spec_from_file_location(
        "model_config_pb2", os.path.join(root, "tritonclient", "grpc", "model_config_pb2.py"))
    schema = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(schema)
    failed = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        config = schema.ModelConfig()
        try:
            text_format.Parse(text, config)
        except text_format.ParseError as e:
            print(f"triton-config-check: {path}: {e}", file=sys.stderr)
            failed += 1
            continue
        print(json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True), sort_keys=True))
        log = os.environ.get("TRT_TEST_TRITON_LOG")
        if log:
            with open(log, "a", encoding="utf-8") as f:
                f.write(f"parsed {path}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

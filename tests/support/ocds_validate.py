#!/usr/bin/python3
"""Validate an OCDS 1.1 release package against the 1.1.5 schemas with the lots and location
extensions applied; print a summary of its items and lots with their numbers as written.

usage: ocds_validate.py OCDS_DIR PACKAGE.json

OCDS_DIR holds release-package-schema.json and release-schema-with-lots-and-location.json
(see its README.md). The package schema's reference to the core release schema is resolved to
the patched one, as a package that declares both extensions must be (Draft 4, Debian's
python3-jsonschema 4.10 or later). Exit 0 valid (summary on stdout), 1 invalid (every error on
stdout), 2 usage or missing files, 3 jsonschema missing. Numbers are parsed as Decimal, so the
summary shows them exactly as the file has them.
"""
import decimal
import json
import os
import re
import sys
import warnings

LOTS_EXT = ("https://raw.githubusercontent.com/open-contracting-extensions/"
            "ocds_lots_extension/v1.1.5/extension.json")
LOCATION_EXT = ("https://raw.githubusercontent.com/open-contracting-extensions/"
                "ocds_location_extension/v1.1.5/extension.json")
DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def load_json(path, **kw):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f, **kw)
    except OSError as e:
        print(f"cannot read {path}: {e}")
        sys.exit(2)


def no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def schema_errors(ocds_dir, package):
    try:
        import jsonschema
    except ImportError:
        print("python3-jsonschema is not installed (Debian: apt-get install python3-jsonschema)")
        sys.exit(3)
    warnings.simplefilter("ignore", DeprecationWarning)  # RefResolver: deprecated in 4.18+
    pkg_schema = load_json(os.path.join(ocds_dir, "release-package-schema.json"))
    rel_schema = load_json(os.path.join(ocds_dir, "release-schema-with-lots-and-location.json"))
    ref = pkg_schema["properties"]["releases"]["items"]["$ref"]
    resolver = jsonschema.RefResolver.from_schema(pkg_schema, store={ref: rel_schema})
    validator = jsonschema.Draft4Validator(pkg_schema, resolver=resolver,
                                           format_checker=jsonschema.FormatChecker())
    for e in sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path)):
        yield "/".join(str(p) for p in e.absolute_path) + ": " + e.message


def extra_errors(package):
    """What the schema leaves to formats that may not be checked here: dates and extensions."""
    ext = package.get("extensions") or []
    for url in (LOTS_EXT, LOCATION_EXT):
        if url not in ext:
            yield f"extensions: {url} is not declared"
    dates = [("publishedDate", package.get("publishedDate"))]
    for i, r in enumerate(package.get("releases") or []):
        dates.append((f"releases/{i}/date", r.get("date")))
        period = (r.get("tender") or {}).get("tenderPeriod") or {}
        for k in ("startDate", "endDate"):
            dates.append((f"releases/{i}/tender/tenderPeriod/{k}", period.get(k)))
    for where, value in dates:
        if value is not None and not (isinstance(value, str) and DATE_TIME.match(value)):
            yield f"{where}: {value!r} is not an RFC 3339 date-time"


def summary(package):
    for r in package["releases"]:
        tender = r.get("tender") or {}
        for it in tender.get("items") or []:
            unit = it.get("unit") or {}
            print(f"item {it.get('relatedLot')} {it.get('quantity')} {unit.get('id')}")
        for lot in tender.get("lots") or []:
            v = lot.get("value")
            print(f"lot {lot['id']} " + (f"{v.get('amount')} {v.get('currency')}" if v else "-"))


def main():
    if len(sys.argv) != 3:
        print("usage: ocds_validate.py OCDS_DIR PACKAGE.json")
        sys.exit(2)
    ocds_dir, path = sys.argv[1], sys.argv[2]
    try:
        package = load_json(path, parse_float=decimal.Decimal, parse_constant=no_constant)
    except ValueError as e:
        print(f"{path}: not JSON: {e}")
        sys.exit(1)
    errors = list(schema_errors(ocds_dir, package)) + list(extra_errors(package))
    for e in errors:
        print(f"INVALID {e}")
    if errors:
        sys.exit(1)
    summary(package)


if __name__ == "__main__":
    main()

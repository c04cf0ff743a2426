#!/usr/bin/python3
"""Scrape a Prometheus endpoint and parse it with the real parser.

    /usr/bin/python3 prom_scrape.py URL

Fetches URL (5 s deadline), parses the body with prometheus_client's
text_string_to_metric_families (Debian's python3-prometheus-client), and
prints one JSON object: {"content_type", "families": {name: type},
"samples": [[name, {labels}, value], ...]}.  Exits 1, saying why, when the
body does not parse or a family is described twice (HELP and TYPE once per
family).
"""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main():
    with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
        content_type = resp.headers.get("Content-Type")
        body = resp.read().decode("utf-8")
    families, samples = {}, []
    for family in text_string_to_metric_families(body):
        if family.name in families:
            sys.exit("family %s described twice" % family.name)
        families[family.name] = family.type
        for sample in family.samples:
            samples.append([sample.name, sample.labels, sample.value])
    print(json.dumps({"content_type": content_type, "families": families,
                      "samples": samples}))


if __name__ == "__main__":
    main()

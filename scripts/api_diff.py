#!/usr/bin/env python3
"""Breaking changes caught: compares openapi/openapi.json with the last released document,
openapi/released/openapi.json, with Optic (pinned in tools/api-diff, run offline). A
breaking change fails unless the document's `info.version` moved to a new major and
CHANGELOG.md records the change under that version's `### Breaking`.

    python3 scripts/api_diff.py               the check (make api-diff)
    python3 scripts/api_diff.py --self-check  proves Optic, as run here, flags a removed
                                              operation and a removed required response
                                              field, and passes an unchanged document
    python3 scripts/api_diff.py --release     makes the current document the released one

The reference is the committed file, not a git tag: CI runs in a fresh clone that may hold
no tags. When the clone does have the release's tag (api-vX.Y.Z), the file must equal the
document at that tag.
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CURRENT = os.path.join(ROOT, "openapi", "openapi.json")
RELEASED = os.path.join(ROOT, "openapi", "released", "openapi.json")
CHANGELOG = os.path.join(ROOT, "CHANGELOG.md")
OPTIC = os.path.abspath(os.environ.get("OPTIC", os.path.join(ROOT, "tools", "api-diff", "node_modules", ".bin", "optic")))
BREAKING = "This is a breaking change"


def say(message):
    print(f"api-diff: {message}", file=sys.stderr)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def major(document):
    return int(str(document["info"]["version"]).split(".")[0])


def normalised(document):
    """The document as the policy reads it: a new error code is not a breaking change
    (clients treat an unknown code by its status), so `Problem.code`'s enum is left out."""
    document = copy.deepcopy(document)
    code = document.get("components", {}).get("schemas", {}).get("Problem", {}).get("properties", {}).get("code")
    if isinstance(code, dict):
        code.pop("enum", None)
        code.pop("x-enum-descriptions", None)
    return document


def optic_diff(before, after):
    """Runs Optic's breaking-change rules on two documents: (breaking, report)."""
    if not os.access(OPTIC, os.X_OK):
        say(f"{OPTIC} not found: run 'make api-diff' (it installs Optic with npm ci)")
        sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="kabinet-api-diff.") as work:
        for name, document in (("released.json", before), ("current.json", after)):
            with open(os.path.join(work, name), "w", encoding="utf-8") as f:
                json.dump(normalised(document), f, indent=1)
        env = dict(os.environ, OPTIC_TELEMETRY_LEVEL="off", CI="true")
        run = subprocess.run(
            [OPTIC, "diff", "released.json", "current.json", "--check"],
            cwd=work, env=env, capture_output=True, text=True, timeout=600,
        )
    # Optic warns about allOf variants it does not model (nullable references); noise here.
    report = "\n".join(
        line for line in (run.stdout + run.stderr).splitlines() if "invalid allOf variant" not in line
    )
    if run.returncode == 0:
        return False, report
    if BREAKING in report:
        return True, report
    say(f"optic failed (exit {run.returncode}) without a verdict:\n{report}")
    sys.exit(2)


def changelog_text():
    if not os.path.exists(CHANGELOG):
        return ""
    with open(CHANGELOG, encoding="utf-8") as f:
        return f.read()


def changelog_breaking(version, text):
    """The list items under `### Breaking` in the `## API <version>` section of a changelog."""
    section = re.search(rf"^## API {re.escape(version)}\b.*?$(.*?)(?=^## |\Z)", text, re.M | re.S)
    if not section:
        return []
    breaking = re.search(r"^### Breaking\s*$(.*?)(?=^##|\Z)", section.group(1), re.M | re.S)
    if not breaking:
        return []
    return [line for line in breaking.group(1).splitlines() if line.lstrip().startswith(("-", "*"))]


def check_tag(released):
    """With tags in the clone, the committed reference must be the tagged document."""
    tag = f"api-v{released['info']['version']}"
    tags = subprocess.run(["git", "tag", "--list", "api-v*"], cwd=ROOT, capture_output=True, text=True)
    if tags.returncode != 0 or not tags.stdout.strip():
        say(f"no api-v* tags in this clone: the committed {os.path.relpath(RELEASED, ROOT)} is the reference")
        return
    if tag not in tags.stdout.split():
        say(f"warning: this clone has api-v* tags but not {tag}; the committed reference is used")
        return
    shown = subprocess.run(
        ["git", "show", f"{tag}:openapi/released/openapi.json"], cwd=ROOT, capture_output=True, text=True
    )
    if shown.returncode != 0 or json.loads(shown.stdout) != released:
        say(f"openapi/released/openapi.json differs from the document tagged {tag}: restore it from the tag")
        sys.exit(1)
    say(f"the reference equals the document tagged {tag}")


def allowed(released, current, changelog):
    """Whether a breaking change is a new major version that the changelog records."""
    recorded = changelog_breaking(current["info"]["version"], changelog)
    return major(current) > major(released) and bool(recorded)


def check():
    released, current = load(RELEASED), load(CURRENT)
    check_tag(released)
    broke, report = optic_diff(released, current)
    was, now = released["info"]["version"], current["info"]["version"]
    if not broke:
        say(f"no breaking change since API {was}")
        return 0
    print(report)
    recorded = changelog_breaking(now, changelog_text())
    if allowed(released, current, changelog_text()):
        say(f"breaking changes since API {was}, recorded in CHANGELOG.md under API {now}")
        return 0
    say(f"breaking changes since the released API {was} (above).")
    say("Keep the old behaviour (add, do not change or remove; deprecate first: README,")
    say("'Versioning and deprecation'), or make it a new major version: raise info.version in")
    say(f"api/src/openapi.rs past {major(released)}.x and record each change in CHANGELOG.md under")
    say(f"'## API <new version>' / '### Breaking'. Now: info.version is {now}, CHANGELOG.md lists "
        f"{len(recorded)} breaking change(s) for it.")
    return 1


def first_required_response_field(document):
    """(operation, schema name, property): a required property of a component schema that
    some operation's 2xx JSON response refers to."""
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
                name = ref.rsplit("/", 1)[-1]
                if status.startswith("2") and name in schemas and schemas[name].get("required"):
                    return f"{method.upper()} {path}", name, schemas[name]["required"][0]
    raise SystemExit("api-diff: self-check found no response with a required field")


def self_check():
    """Optic on altered copies of the current document, cut to a few operations so that each
    run takes seconds: each alteration must be flagged, the unaltered copy must pass."""
    document = load(CURRENT)
    target, schema, field = first_required_response_field(document)
    kept = {p: i for p, i in document["paths"].items() if p == target.split(" ", 1)[1]}
    kept.update(dict(list(document["paths"].items())[:2]))
    base = dict(document, paths=kept)

    removed_operation = copy.deepcopy(base)
    gone = next(p for p in removed_operation["paths"] if p != target.split(" ", 1)[1])
    del removed_operation["paths"][gone]

    removed_field = copy.deepcopy(base)
    properties = removed_field["components"]["schemas"][schema]
    properties["required"].remove(field)
    properties["properties"].pop(field, None)

    cases = [
        ("an unchanged document", base, False),
        (f"removing {gone}", removed_operation, True),
        (f"removing the required field {schema}.{field} ({target})", removed_field, True),
    ]
    failed = 0
    for what, after, expected in cases:
        broke, report = optic_diff(base, after)
        verdict = "breaking" if broke else "not breaking"
        if broke == expected:
            say(f"self-check: {what}: {verdict}, as it should be")
        else:
            failed += 1
            say(f"self-check FAILED: {what}: {verdict}\n{report}")
    # The rule that lets a breaking change through, on made-up changelogs.
    v1, v2 = dict(base, info=dict(base["info"], version="1.4.0")), dict(base, info=dict(base["info"], version="2.0.0"))
    recorded = "# Changes\n\n## API 2.0.0\n\n### Breaking\n- removed GET /x\n\n## API 1.4.0\n"
    unrecorded = "# Changes\n\n## API 2.0.0\n\n### Added\n- GET /y\n\n## API 1.0.0\n\n### Breaking\n- z\n"
    rules = [
        ("a new major recorded under ### Breaking", v1, v2, recorded, True),
        ("a new major the changelog does not record as breaking", v1, v2, unrecorded, False),
        ("a recorded breaking change without a new major", v1, dict(v1), recorded, False),
    ]
    for what, before, after, changelog, expected in rules:
        if allowed(before, after, changelog) == expected:
            say(f"self-check: {what}: {'allowed' if expected else 'refused'}, as it should be")
        else:
            failed += 1
            say(f"self-check FAILED: {what}")
    return 1 if failed else 0


def release():
    current = load(CURRENT)
    version = current["info"]["version"]
    os.makedirs(os.path.dirname(RELEASED), exist_ok=True)
    shutil.copyfile(CURRENT, RELEASED)
    say(f"openapi/released/openapi.json is now API {version}. Commit it, then tag the commit:")
    say(f"  git commit -m 'API {version} released' openapi/released/openapi.json CHANGELOG.md")
    say(f"  git tag -a api-v{version} -m 'API {version}' && git push origin api-v{version}")
    return 0


if __name__ == "__main__":
    argument = sys.argv[1] if len(sys.argv) > 1 else ""
    actions = {"": check, "--self-check": self_check, "--release": release}
    if argument not in actions:
        raise SystemExit(__doc__)
    sys.exit(actions[argument]())

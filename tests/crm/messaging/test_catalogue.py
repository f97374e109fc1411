"""The message catalogue is the one list of messages: every template folder and every message
the code queues has an entry, and every entry has the files of each channel it allows."""

import ast
from pathlib import Path

from crm.messaging import catalogue
from crm.messaging.channels import CHANNELS
from crm.messaging.render import TEMPLATES_DIR
from crm.services import appointments, outbox

ROOT = Path(__file__).resolve().parents[3]
QUEUEING_PACKAGES = ("crm", "bot", "funnel")


def _module_constants(tree: ast.Module) -> dict[str, str]:
    constants = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = node.value.value
    return constants


def queued_template_names() -> dict[str, str]:
    """{template name: where} for every `template=...` in a call, every reminder `Notice(name,
    ...)` and every `"template": ...` in a dict in the code, with module constants looked up."""
    found: dict[str, str] = {}
    for package in QUEUEING_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = _module_constants(tree)
            values: list[ast.expr] = []
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    values += [k.value for k in node.keywords if k.arg == "template"]
                    # A reminder spec names its template first: Notice("visit_reminder", ...).
                    func = node.func
                    if isinstance(func, ast.Name) and func.id == "Notice" and node.args:
                        values.append(node.args[0])
                elif isinstance(node, ast.Dict):
                    values += [
                        v
                        for k, v in zip(node.keys, node.values, strict=True)
                        if isinstance(k, ast.Constant) and k.value == "template"
                    ]
            for value in values:
                name = None
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    name = value.value
                elif isinstance(value, ast.Name):
                    name = constants.get(value.id)
                if name is not None:
                    found.setdefault(name, f"{path.relative_to(ROOT)}:{value.lineno}")
    return found


def test_every_template_folder_has_an_entry_and_every_entry_its_folder():
    folders = {p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir()}
    declared = {t.folder for t in catalogue.TEMPLATES.values() if t.folder is not None}
    assert folders - declared == set(), "a template folder with no catalogue entry"
    assert declared - folders == set(), "a catalogue entry whose folder is missing"


def test_every_entry_has_the_files_of_each_channel_it_allows_and_no_others():
    for entry in catalogue.TEMPLATES.values():
        assert entry.channels, entry.name
        assert entry.channels <= set(CHANNELS), f"{entry.name}: a channel with no module"
        if entry.folder is None:
            continue
        present = {p.name for p in (TEMPLATES_DIR / entry.folder).iterdir()}
        for channel, module in CHANNELS.items():
            has_files = set(module.parts) <= present
            if channel in entry.channels:
                assert has_files, f"{entry.name} by {channel}: needs {module.parts}"
            else:
                # Files for a channel the catalogue does not allow would never be sent.
                own = set(module.parts) - set().union(*(CHANNELS[c].parts for c in entry.channels))
                assert not own & present, f"{entry.name} has {channel} files but not the channel"


def test_every_message_the_code_queues_is_in_the_catalogue():
    queued = queued_template_names()
    # The scan finds the messages (if it found none, it would prove nothing).
    assert {"visit_reminder", "check_in", "visit_confirmation", "weekly_funnel_report"} <= set(
        queued
    )
    missing = {name: where for name, where in queued.items() if name not in catalogue.TEMPLATES}
    assert missing == {}


def test_the_rules_read_the_catalogue():
    staff = catalogue.staff_templates()
    assert "weekly_funnel_report" in staff and "check_in_alert_staff" in staff
    assert "check_in" not in staff and "visit_reminder" not in staff
    # Staff messages and the visit confirmation (the person is waiting for it) go at night.
    assert catalogue.sent_in_quiet_hours() == staff | {"visit_confirmation"}
    assert {"visit_cancelled", "visit_cancelled_staff"} == appointments.CANCELLATION_NOTICES
    assert outbox.is_for_public(_message("tsd_reminder"))
    assert not outbox.is_for_public(_message("tsd_due_staff"))
    assert not outbox.waits_for_quiet_hours(_message("visit_confirmation"))
    assert outbox.waits_for_quiet_hours(_message("visit_reminder"))
    # A name we do not know is treated with the most care: public, waits for the morning.
    assert outbox.waits_for_quiet_hours(_message("no_such_template"))


def _message(template: str):
    import crm.models as m

    return m.OutboxMessage(
        channel=m.Channel.EMAIL, recipient="x@example.com", template=template, payload={},
        unique_key=f"test:{template}",
    )  # fmt: skip

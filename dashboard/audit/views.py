"""/administration/audit/: the audit trail for staff, filtered, paged through and as CSV."""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from dashboard.decorators import staff_required
from dashboard.models import AuditEntry

# Fifty rows fit a screen or two and keep a page's query quick with any retention.
PAGE_SIZE = 50
CSV_COLUMNS = (
    "when", "who", "kind", "stack", "run", "result_run", "result_state", "succeeded", "fields",
    "message",
)  # fmt: skip


class AuditFilter(forms.Form):
    person = forms.CharField(required=False, max_length=150)
    stack = forms.CharField(required=False, max_length=128)
    kind = forms.ChoiceField(required=False, choices=[("", "Any"), *AuditEntry.Action.choices])
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filtered_entries(form: AuditFilter) -> QuerySet[AuditEntry]:
    """Entries matching the valid filters; an invalid one is shown as an error and ignored."""
    entries = AuditEntry.objects.all()
    data = form.cleaned_data if form.is_valid() else {
        name: value for name, value in getattr(form, "cleaned_data", {}).items()
        if name not in form.errors
    }  # fmt: skip
    if data.get("person"):
        entries = entries.filter(username=data["person"])
    if data.get("stack"):
        entries = entries.filter(stack_id=data["stack"])
    if data.get("kind"):
        entries = entries.filter(action=data["kind"])
    if data.get("since"):
        entries = entries.filter(created_at__gte=_day_start(data["since"]))
    if data.get("until"):
        entries = entries.filter(created_at__lt=_day_start(data["until"]) + timedelta(days=1))
    return entries


@staff_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilter(request.GET)
    entries = filtered_entries(form)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "dashboard/audit_log.html", {
        "form": form,
        "page": page,
        "entries": page.object_list,
        "query": query.urlencode(),
        "people": AuditEntry.objects.order_by("username").values_list("username", flat=True)
        .distinct(),
    })  # fmt: skip


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets (CSV injection): quote it.
    text = str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@staff_required
@require_GET
def audit_csv(request: HttpRequest) -> StreamingHttpResponse:
    """Every matching entry (not one page), streamed."""
    entries = filtered_entries(AuditFilter(request.GET))
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator(chunk_size=500):
            yield writer.writerow([_cell(v) for v in (
                entry.created_at.isoformat(), entry.username, entry.action, entry.stack_id,
                entry.run_id, entry.result_run_id, entry.result_state, entry.succeeded,
                entry.fields, entry.message,
            )])  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="portal-audit-{stamp}.csv"'
    return response

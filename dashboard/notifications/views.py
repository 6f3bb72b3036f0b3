"""/administration/notifications/: the routes, for staff; the last deliveries and failures.

Routes set by PORTAL_NOTIFY show read-only. Saved routes are added, edited and removed here,
each change audited; a URL is typed, checked with Apprise, encrypted, and never shown back (its
scheme and host only). "Send a test" queues a message like any other: the sender delivers it
within an interval, and its outcome shows under the last deliveries.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from dashboard import audit
from dashboard.decorators import staff_required
from dashboard.models import AuditEntry, NotificationRoute, OutboxMessage
from dashboard.notifications import lease, outbox, routes
from dashboard.notifications.watcher import poke

# Rows of each list on the page.
DELIVERIES_SHOWN = 20


def _names(text: str) -> list[str]:
    parts = (part.strip() for part in text.replace("\n", ",").split(","))
    return list(dict.fromkeys(part for part in parts if part))


class RouteForm(forms.Form):
    name = forms.CharField(max_length=100)
    # Never filled in from what is saved: a URL holds tokens.
    url = forms.CharField(
        max_length=2000,
        required=False,
        label="Apprise URL",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    spaces = forms.CharField(
        required=False, label="Spaces", help_text="Space IDs, comma-separated; empty: every space."
    )
    labels = forms.CharField(
        required=False, label="Labels", help_text="A stack with any of them; empty: any stack."
    )
    kinds = forms.MultipleChoiceField(
        required=False,
        choices=[(kind, routes.KIND_LABELS[kind]) for kind in routes.KINDS],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every kind.",
    )

    def __init__(self, *args, route: NotificationRoute | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.route = route
        if route is not None:
            self.fields["url"].help_text = "Leave empty to keep the saved URL."

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = NotificationRoute.objects.filter(name=name)
        if self.route is not None:
            taken = taken.exclude(pk=self.route.pk)
        if taken.exists() or any(r.name == name for r in routes.environment_routes()):
            raise forms.ValidationError("Another route has this name.")
        return name

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if not url and self.route is not None:
            return ""
        if problem := routes.url_problem(url):
            raise forms.ValidationError(problem[0].upper() + problem[1:] + ".")
        return url

    def clean_spaces(self) -> list[str]:
        return _names(self.cleaned_data["spaces"])

    def clean_labels(self) -> list[str]:
        return _names(self.cleaned_data["labels"])


def _page(request: HttpRequest, form: RouteForm | None = None, status: int = 200) -> HttpResponse:
    recent = list(OutboxMessage.objects.all()[:DELIVERIES_SHOWN])
    given_up = OutboxMessage.objects.filter(status=OutboxMessage.Status.GIVEN_UP)
    given_up = list(given_up[:DELIVERIES_SHOWN])
    holder = lease.holder_now()
    environment_routes = routes.environment_routes()
    return render(request, "dashboard/notifications.html", {
        "environment_routes": environment_routes,
        # Both kinds in one table: saved rows answer to Route's names (key, shown_url, ...).
        "routes_shown": [*environment_routes, *NotificationRoute.objects.all()],
        "form": form or RouteForm(),
        "recent": recent,
        "given_up": given_up,
        "tally": outbox.tally(),
        "base_url": settings.PORTAL_BASE_URL,
        "sender": holder if holder and holder.expires_at > lease.now() else None,
        "kind_labels": routes.KIND_LABELS,
    }, status=status)  # fmt: skip


@staff_required
@require_http_methods(["GET"])
def notifications(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _audit(request: HttpRequest, message: str, fields=()) -> None:
    action = AuditEntry.Action.NOTIFICATION_CHANGE
    audit.record(request.user, action, message=message, fields=fields)


@staff_required
@require_POST
def add_route(request: HttpRequest) -> HttpResponse:
    form = RouteForm(request.POST)
    if not form.is_valid() or not form.cleaned_data["url"]:
        if form.is_bound and not form.errors:
            form.add_error("url", "Enter the route's Apprise URL.")
        return _page(request, form, status=400)
    data = form.cleaned_data
    route = NotificationRoute(
        name=data["name"],
        shown_url=routes.shown_url(data["url"]),
        spaces=data["spaces"],
        labels=data["labels"],
        kinds=data["kinds"],
        updated_by=request.user,
    )
    route.set_url(data["url"])
    route.save()
    _audit(request, f'Added route "{route.name}" to {route.shown_url}')
    messages.success(request, f'Route "{route.name}" added. Try it with "Send a test".')
    return redirect("dashboard:notifications")


@staff_required
@require_http_methods(["GET", "POST"])
def edit_route(request: HttpRequest, route_id: int) -> HttpResponse:
    route = get_object_or_404(NotificationRoute, pk=route_id)
    if request.method == "POST":
        form = RouteForm(request.POST, route=route)
        if form.is_valid():
            data = form.cleaned_data
            changed = [
                name for name in ("name", "spaces", "labels", "kinds")
                if getattr(route, name) != data[name]
            ] + (["url"] if data["url"] else [])  # fmt: skip
            route.name, route.spaces = data["name"], data["spaces"]
            route.labels, route.kinds = data["labels"], data["kinds"]
            if data["url"]:
                route.set_url(data["url"])
                route.shown_url = routes.shown_url(data["url"])
            route.updated_by = request.user
            route.save()
            _audit(request, f'Changed route "{route.name}"', fields=changed)
            messages.success(request, f'Route "{route.name}" saved.')
            return redirect("dashboard:notifications")
    else:
        form = RouteForm(
            route=route,
            initial={
                "name": route.name,
                "spaces": ", ".join(route.spaces),
                "labels": ", ".join(route.labels),
                "kinds": route.kinds,
            },
        )
    return render(
        request,
        "dashboard/notifications_edit.html",
        {"route": route, "form": form},
        status=400 if form.errors else 200,
    )


@staff_required
@require_POST
def remove_route(request: HttpRequest, route_id: int) -> HttpResponse:
    route = get_object_or_404(NotificationRoute, pk=route_id)
    name = route.name
    route.delete()
    _audit(request, f'Removed route "{name}"')
    messages.success(request, f'Route "{name}" removed.')
    return redirect("dashboard:notifications")


@staff_required
@require_POST
def send_test(request: HttpRequest) -> HttpResponse:
    """Queue a test message to one route (saved or from the environment)."""
    route = routes.route_by_key(request.POST.get("route", ""))
    if route is None:
        raise Http404("No such route")
    now = lease.now()
    OutboxMessage.objects.create(
        route_key=route.key,
        route_name=route.name,
        kind="test",
        title="Test from the Spacelift Portal",
        body=f'This is a test of the route "{route.name}", sent by {request.user.get_username()} '
        f"at {timezone.localtime(now):%Y-%m-%d %H:%M %Z}. Messages about stacks arrive here.",
        created_at=now,
        next_attempt_at=now,
    )
    _audit(request, f'Sent a test to route "{route.name}"')
    poke()
    messages.success(
        request,
        f'A test message to "{route.name}" is on its way; its outcome shows under '
        "Last deliveries within an interval.",
    )
    return redirect("dashboard:notifications")

"""The Spacelift connection form: host, key ID and secret, normalised and checked as typed."""

from __future__ import annotations

from collections.abc import Callable

from django import forms

from dashboard.spacelift.account import (
    KEY_ID_MAX_CHARS,
    normalize_endpoint,
    refuse_internal_address,
    validate_key_id,
)

# Generous: Spacelift secrets are far shorter, OIDC tokens used as secrets are longer.
MAX_SECRET_LENGTH = 8192


# How the audit log names each field a save changes (never its value).
AUDIT_NAMES = {"host": "host", "key_id": "API key ID", "secret": "API key secret"}


class NormalisedField(forms.CharField):
    """Text read through `normalise` (which raises ValueError with the reason for text it
    refuses), so a value typed differently but meaning the same as the saved one is no change
    in `Form.changed_data`."""

    def __init__(self, normalise: Callable[[str], str], **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalise = normalise

    def to_python(self, value) -> str:
        value = super().to_python(value)
        if not value:
            return value
        try:
            return self.normalise(value)
        except ValueError as exc:  # InvalidEndpoint, InvalidKeyID
            raise forms.ValidationError(str(exc)) from None


def account_address(text: str) -> str:
    """A Spacelift account's address (`https://host[:port]`), never an internal one."""
    address = normalize_endpoint(text)
    refuse_internal_address(address)
    return address


def plain_text(
    normalise: Callable[[str], str], label: str, max_length: int, help_text: str
) -> NormalisedField:
    """A field for a host or an ID: browsers neither fill it in nor spell-check it."""
    attrs = {"autocomplete": "off", "spellcheck": "false"}
    return NormalisedField(normalise, label=label, max_length=max_length, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs))  # fmt: skip


HOST_HELP = "Your Spacelift account, for example mycorp.app.spacelift.io."
KEY_ID_HELP = (
    "The 26-character ID from Organization settings > API keys (an OIDC API key's ID, "
    "oidc::…, as Spacelift shows it)."
)


class ConnectionForm(forms.Form):
    """Host, key ID and secret. A blank secret means "the saved one", but only for the host and
    key ID it was saved with: otherwise anyone with staff rights could send it elsewhere."""

    host = plain_text(account_address, "Host URL", 300, HOST_HELP)
    key_id = plain_text(validate_key_id, "API key ID", KEY_ID_MAX_CHARS, KEY_ID_HELP)
    secret = forms.CharField(
        label="API key secret",
        required=False,
        strip=True,
        max_length=MAX_SECRET_LENGTH,
        # Never rendered back: the field is always empty when the page is shown.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    save_anyway = forms.BooleanField(
        label="Save even if the test fails",
        required=False,
        help_text="Save tests the connection first and refuses one that does not work.",
    )

    def __init__(self, *args, saved: tuple[str, str] | None = None, **kwargs) -> None:
        """`saved`: the host and key ID of a saved, readable secret."""
        super().__init__(*args, **kwargs)
        self.saved = saved
        self.fields["secret"].help_text = (
            "A secret is saved. Leave this empty to keep it; it is only used with the saved "
            "host and key ID."
            if saved
            else "Shown once by Spacelift when the key was created (the downloaded .config file)."
        )

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("secret") or "secret" in self.errors:
            return cleaned
        if self.saved is None:
            self.add_error("secret", "Enter the API key secret.")
        elif (cleaned.get("host"), cleaned.get("key_id")) != self.saved and not (
            "host" in self.errors or "key_id" in self.errors
        ):
            self.add_error(
                "secret",
                "Type the secret again: the saved one is only sent to the host and key ID it "
                "was saved with.",
            )
        return cleaned

    @property
    def reuses_saved_secret(self) -> bool:
        return not self.cleaned_data.get("secret")

    @property
    def changed_fields(self) -> list[str]:
        """The fields a save changes, named for the audit log. The form's initial is the saved
        host and key ID, never the secret: a typed secret counts as changed."""
        return [AUDIT_NAMES[name] for name in self.changed_data if name in AUDIT_NAMES]

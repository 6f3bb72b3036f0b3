from __future__ import annotations

from django import forms

from dashboard.spacelift.account import (
    InvalidEndpoint,
    InvalidKeyID,
    normalize_endpoint,
    refuse_internal_address,
    validate_key_id,
)

# Generous: Spacelift secrets are far shorter, OIDC tokens used as secrets are longer.
MAX_SECRET_LENGTH = 8192


class ConnectionForm(forms.Form):
    """Host, key ID and secret. A blank secret means "the saved one", but only for the host and
    key ID it was saved with: otherwise anyone with staff rights could send it elsewhere."""

    host = forms.CharField(
        label="Host URL",
        max_length=300,
        help_text="Your Spacelift account, for example mycorp.app.spacelift.io.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    key_id = forms.CharField(
        label="API key ID",
        max_length=64,
        help_text="The 26-character ID from Organization settings > API keys.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
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

    def clean_host(self) -> str:
        try:
            host = normalize_endpoint(self.cleaned_data["host"])
            refuse_internal_address(host)
        except InvalidEndpoint as exc:
            raise forms.ValidationError(str(exc)) from None
        return host

    def clean_key_id(self) -> str:
        try:
            return validate_key_id(self.cleaned_data["key_id"])
        except InvalidKeyID as exc:
            raise forms.ValidationError(str(exc)) from None

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

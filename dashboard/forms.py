from __future__ import annotations

from django import forms

from .spacelift.account import InvalidEndpoint, InvalidKeyID, normalize_endpoint, validate_key_id

# Generous: Spacelift secrets are far shorter, OIDC tokens used as secrets are longer.
MAX_SECRET_LENGTH = 8192


class ConnectionForm(forms.Form):
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

    def __init__(self, *args, secret_usable: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.secret_usable = secret_usable
        self.fields["secret"].help_text = (
            "A secret is saved. Leave this empty to keep it."
            if secret_usable
            else "Shown once by Spacelift when the key was created (the downloaded .config file)."
        )

    def clean_host(self) -> str:
        try:
            return normalize_endpoint(self.cleaned_data["host"])
        except InvalidEndpoint as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_key_id(self) -> str:
        try:
            return validate_key_id(self.cleaned_data["key_id"])
        except InvalidKeyID as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("secret") and not self.secret_usable and "secret" not in self.errors:
            self.add_error("secret", "Enter the API key secret.")
        return cleaned

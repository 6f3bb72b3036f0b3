"""The app's template tags (`{% load portal %}`): times, durations, Markdown, Spacelift links."""

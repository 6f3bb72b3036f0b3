"""Sign-in and people: password and single sign-on, who may operate, client addresses."""

"""People: accounts, passwords, logins and the officer/camera/station registry."""

"""The fault suite: hostile children and hostile parents, each checked for leaks."""

"""Private helpers any layer may use: the sync facade, describing rules and policies, the batch progress bar,
YAML line positions. Not public; they import no layer above `blackboard`."""

"""Private helpers shared by the layers: the sync facade, describing rules and policies. Not public."""

"""Cases: the registry, the one public rule, matching, people pages, posters."""

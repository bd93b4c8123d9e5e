"""Stats: tracking endpoint, reports and charts of opens and clicks (issues 5 and 7; not built yet)."""

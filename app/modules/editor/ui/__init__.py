"""The editor's Qt pages: the template library, the designer canvas, preview, history and the brand kit."""

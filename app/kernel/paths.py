"""Where Postroom keeps its data, configuration and logs (platformdirs, or one --data-dir)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

from app import APP_ID


@dataclass(frozen=True)
class AppPaths:
    data_dir: Path
    config_dir: Path
    log_dir: Path

    @classmethod
    def default(cls) -> AppPaths:
        return cls(
            data_dir=Path(platformdirs.user_data_dir(APP_ID, appauthor=False)),
            config_dir=Path(platformdirs.user_config_dir(APP_ID, appauthor=False)),
            log_dir=Path(platformdirs.user_log_dir(APP_ID, appauthor=False)),
        )

    @classmethod
    def inside(cls, data_dir: Path) -> AppPaths:
        """Keep everything under one folder (``--data-dir``): data, settings and logs travel together."""
        data_dir = data_dir.expanduser().resolve()
        return cls(data_dir=data_dir, config_dir=data_dir, log_dir=data_dir / "logs")

    def ensure(self) -> AppPaths:
        for folder in (self.data_dir, self.config_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def database_file(self) -> Path:
        return self.data_dir / "postroom.sqlite3"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "postroom.log"

    def default_database_url(self) -> str:
        return f"sqlite:///{self.database_file}"

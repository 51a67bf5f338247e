"""Write tests/openapi.snapshot.json from the app as it is: `python -m tests.openapi_snapshot`."""

import json
import tempfile
from pathlib import Path

from app.core.config import Settings
from app.main import create_app

SNAPSHOT = Path(__file__).parent / "openapi.snapshot.json"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(Settings(database_url=f"sqlite:///{folder}/unused.db"))
        try:
            document = app.openapi()
        finally:
            app.state.engine.dispose()
    SNAPSHOT.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()

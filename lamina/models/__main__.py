import sys

from lamina.models.cli import main

sys.exit(main())

"""manufacturing_assets: a Dagster platform that turns raw factory data into trusted tables.

The code location is ``manufacturing_assets.definitions``; ``docs/design.md`` maps the package.
"""

import warnings

from dagster import BetaWarning, PreviewWarning

# The code location uses Dagster features marked beta/preview on purpose (partition
# mappings, backfill policies, partitioned checks); one warning per use would bury the
# console in repeats of the same notice.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

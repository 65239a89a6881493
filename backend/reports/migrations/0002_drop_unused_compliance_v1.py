# The first ComplianceDay table was never written to; it is replaced by a scoped one.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]

    operations = [migrations.DeleteModel(name="ComplianceDay")]

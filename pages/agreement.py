"""One sharing agreement (``?id=SHA-0001``): its fields in words, the DPO's edit form,
ending it with a confirmation, and the record's history (``dashboard.ui_registers``)."""
from dashboard import ui, ui_registers

actor = ui.page_guard("agreement")
ui_registers.record_page("sharing_agreements", actor)

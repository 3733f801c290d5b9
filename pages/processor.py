"""One processor (``?id=PRC-0001``): its fields in words, the DPO's edit form, offboarding
with a confirmation, and the record's history (``dashboard.ui_registers``)."""
from dashboard import ui, ui_registers

actor = ui.page_guard("processor")
ui_registers.record_page("processors", actor)

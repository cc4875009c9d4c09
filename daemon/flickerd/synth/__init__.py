"""Generated test material: a labelled corpus of short clips (``corpus``) and flicker injectors (``inject``)."""

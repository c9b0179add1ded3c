// placeholder: implemented by its family's change

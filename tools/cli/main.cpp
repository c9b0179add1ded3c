int main() { return 0; }  // placeholder: the CLI lands with the training system

# One tst_<unit> per unit of core/ and ui/.
rankscope_add_test(tst_util SOURCES tst_util.cpp LIBS rankscope_util)
rankscope_add_test(tst_tokenizer SOURCES tst_tokenizer.cpp tst_tokenizer_files.cpp LIBS rankscope_tokenizer nlohmann_json::nlohmann_json PkgConfig::SENTENCEPIECE)

# One tst_<unit> per unit of core/ and ui/.
rankscope_add_test(tst_util SOURCES tst_util.cpp LIBS rankscope_util)

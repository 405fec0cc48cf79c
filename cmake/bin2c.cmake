# Writes the bytes of IN as a C array into OUT: cmake -DIN=x.o -DOUT=x.h -DNAME=sym -P bin2c.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n    " body "${body}")
file(WRITE "${OUT}.tmp"
     "/* Generated from ${IN} by cmake/bin2c.cmake: do not edit. */\n"
     "#include <stddef.h>\n"
     "static const unsigned char ${NAME}[] __attribute__((aligned(8))) = {\n    ${body}\n};\n"
     "static const size_t ${NAME}_len = ${len};\n")
file(RENAME "${OUT}.tmp" "${OUT}")

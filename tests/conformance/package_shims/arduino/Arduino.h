// Test stand-in for the Arduino core API the StreamSensor sketch uses (not shipped).
#ifndef ARDUINO_H_SHIM
#define ARDUINO_H_SHIM

#include <stddef.h>
#include <stdint.h>

enum { A0 = 14, A1, A2, A3, A4, A5 };

unsigned long micros(void);
int analogRead(uint8_t pin);

class HardwareSerial {
public:
    void begin(unsigned long baud);
    size_t print(const char *text);
    size_t print(int value);
    size_t print(unsigned long value);
    size_t println(const char *text);
    size_t println(int value);
};
extern HardwareSerial Serial;

void setup(void);
void loop(void);

#endif
